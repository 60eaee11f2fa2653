"""The benchmark of issue #6: our server against the Channels tutorial pattern and a bare
``websockets`` server, on one machine and one Redis, in one run. ``make bench``;
docs/performance.md has the tables and how to read them."""
