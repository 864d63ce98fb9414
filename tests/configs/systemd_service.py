# A config for a systemd service on a VM: paths, user, logs to files.
chdir = "/srv/www/mysite"
pythonpath = "/srv/www/mysite,/srv/www/lib"
wsgi_app = "mysite.wsgi"
raw_env = ["DJANGO_SETTINGS_MODULE=mysite.settings.production"]
bind = "127.0.0.1:8001"
workers = 3
user = "www-data"
group = "www-data"
umask = 0o007
pidfile = "/run/mysite/gunicorn.pid"
errorlog = "/var/log/mysite/error.log"
accesslog = "/var/log/mysite/access.log"
loglevel = "warning"
proc_name = "mysite"
daemon = False
graceful_timeout = 10
