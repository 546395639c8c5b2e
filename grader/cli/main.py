"""Entry points: `lab` (hosts, image, start, finish, grade, notebook, course, doctor) and `grade` (the
instructor's command).

Each sub-command lives in its own module and is registered here; nothing here knows about
libvirt. Commands are thin: they parse, call the core, render, and return an exit status
(grader.cli.exits), reading the world only through grader.cli.environment.
"""
import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def lab():
    """Lab hosts, lab set-up and grading for the KVM/libvirt storage course."""


def _register():
    """Each command lives in its own module; this is the one place that lists them."""
    from grader.cli import course, doctor, grade, hosts, image, labstate, notebook

    lab.add_command(hosts.hosts)
    lab.add_command(image.image)
    lab.add_command(grade.grade)
    lab.add_command(labstate.start)
    lab.add_command(labstate.finish)
    lab.add_command(notebook.notebook)
    lab.add_command(course.course)
    lab.add_command(doctor.doctor)
    return grade.grade


#: The instructor's `grade` command is the same command as `lab grade`.
grade = _register()
