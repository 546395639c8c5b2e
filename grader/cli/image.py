"""`lab image build [--out FILE.qcow2]`: the VM hosts' image, or a student VM host for a classroom."""
from pathlib import Path

import click

from grader.cli.environment import current
from grader.cli.exits import handles_errors


@click.group()
def image():
    """Build the images of VM hosts (`lab hosts up --vm`) and of classroom student VM hosts."""


@image.command("build")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.qcow2",
              help="Write a bootable student VM host here (BIOS and UEFI, cloud-init, this project, "
                   "the notebooks and JupyterLab). Without it: the lab hosts' image, cached.")
@click.option("--size", default="20G", show_default=True, metavar="SIZE",
              help="Virtual size of the student VM host's disk (at least 8G; the file is sparse).")
@handles_errors
def build_command(out, size):
    """Build (or reuse) the Debian image: the first build takes several minutes."""
    from grader.labhosts import studentimage, vm, vmimage
    from grader.labhosts.config import Settings

    env = current()
    images = vm.images_home(Settings.from_env(env.env))
    if out is None:
        built = vmimage.ensure(images, say=env.err)
        env.out(f"VM host image: {built.dir} (kernel {built.info['kernel']})")
        return
    studentimage.build(out.absolute(), studentimage.parse_size(size), images, say=env.err)
