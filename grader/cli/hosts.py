"""`lab hosts up|down|list|env`: isolated libvirt hosts on this machine."""
import click


@click.group()
def hosts():
    """Start, stop and list the isolated lab hosts on this machine."""
