"""`python -m alertmail` is the `alertmail` command."""

from alertmail.interfaces.cli.main import main

main()
