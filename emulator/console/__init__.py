"""The web console: `sfn-local serve` answers a browser at `/` and `/ui/` (routes.py), `sfn-local ui`
opens it (command.py). The page is plain JavaScript in static/, with the graph-layout library
(elkjs) vendored in static/vendor by console/build.sh from console/package-lock.json."""
