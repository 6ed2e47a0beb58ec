"""The web pages: Jinja2 + htmx front doors that call the same services as the JSON API."""
