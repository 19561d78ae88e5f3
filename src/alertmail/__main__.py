"""`python -m alertmail` is the `alertmail` command."""

from alertmail.interfaces.cli.entry import main

main()
