"""Services: the use cases. They talk to the outside world only through the domain's ports."""
