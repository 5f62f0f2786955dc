"""Home feeds computed ahead of their requests."""
