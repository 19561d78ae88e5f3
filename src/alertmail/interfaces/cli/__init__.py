"""The `alertmail` command line."""
