"""`make run`: the whole stack on one machine, on an embedded Postgres."""
