"""``python -m jetpip``."""

from jetpip.cli import run

if __name__ == "__main__":
    run()
