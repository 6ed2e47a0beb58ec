"""The command line: Typer commands that call the same services as the API."""
