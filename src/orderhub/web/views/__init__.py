"""Server-rendered pages. Views only read through selectors and write through services."""
