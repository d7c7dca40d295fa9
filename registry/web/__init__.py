"""HTML pages and badge images, rendered on the server; nothing is loaded from another host."""
