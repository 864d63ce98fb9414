"""`python -m glade` is the same command as `glade`."""

from glade.cli import main

if __name__ == "__main__":
    main()
