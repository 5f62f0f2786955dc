"""Shadow strategies: a candidate strategy scores a sample of a placement's real requests after
their responses have gone out, and its lists are kept beside what was served, without reaching a
customer (`offer` on the request path, `scoring` on a worker, `models`, `compare`)."""
