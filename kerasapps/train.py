"""`python -m kerasapps.train EXPERIMENT`, the suite's first command as the brief names it: `kerasapps train`."""

from kerasapps.commands.cli import run_main
from kerasapps.commands.train import main

if __name__ == "__main__":
    run_main(main)
