# Behind a load balancer that speaks the PROXY protocol and sets
# X-Forwarded-Proto (AWS NLB/ALB, HAProxy).
bind = ["0.0.0.0:8000", "[::]:8000"]
workers = 4
worker_class = "egg:gunicorn#gevent"
worker_connections = 2000
forwarded_allow_ips = "*"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
proxy_protocol = True
proxy_allow_ips = "10.0.0.0/8,172.16.0.0/12"
limit_request_line = 8190
limit_request_fields = 200
limit_request_field_size = 16380
