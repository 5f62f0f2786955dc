"""Previews for the back office: a placement's list with every stage's part (`placement`) and a
prompt template's output on a real customer (`prompt`). Nothing previewed is served or logged."""
