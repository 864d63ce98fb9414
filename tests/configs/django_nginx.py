# Django behind nginx on a VM, the shape of the DigitalOcean guide
# "How To Set Up Django with Postgres, Nginx, and Gunicorn".
import multiprocessing

wsgi_app = "myproject.wsgi:application"
bind = "unix:/run/gunicorn.sock"
workers = multiprocessing.cpu_count() * 2 + 1
timeout = 120
accesslog = "-"
errorlog = "-"
loglevel = "info"
capture_output = True
