# kvm-storage-lab: the course's commands (lab, grade, jupyter, nbgrader) and this host's defaults.
export PATH="/opt/kvm-storage-lab/.venv/bin:$PATH"
export LIBVIRT_DEFAULT_URI="${LIBVIRT_DEFAULT_URI:-qemu:///system}"
export LAB_URI_A="${LAB_URI_A:-qemu:///system}"
# lab5's spare disks: the three extra disks the instructor gave this VM (docs/instructor.md).
export LAB_DISKS="${LAB_DISKS:-/dev/vdb /dev/vdc /dev/vdd}"
