"""C{python -m txzmq}: the C{txzmq} command (see L{txzmq.cli})."""

from txzmq.cli import main

if __name__ == "__main__":
    main()
