-- Workload E: POST a 1 MiB body to /upload on every request.
-- wrk adds the Content-Length header itself when a body is set.
wrk.method = "POST"
wrk.body = string.rep("x", 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
