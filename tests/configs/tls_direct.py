# Serving HTTPS directly, without a proxy in front.
bind = "0.0.0.0:443"
workers = 4
certfile = "/etc/letsencrypt/live/example.com/fullchain.pem"
keyfile = "/etc/letsencrypt/live/example.com/privkey.pem"
ca_certs = "/etc/ssl/certs/ca-certificates.crt"
ciphers = "ECDHE+AESGCM"
suppress_ragged_eofs = True
