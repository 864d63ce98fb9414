"""Settings Glade accepts but does not implement, and gunicorn settings it
does not have: one warning line each, naming the setting and its source;
never silence, never a crash. Plus the hooks' call conventions."""

from __future__ import annotations

from glade.cli import load


def test_each_unsupported_setting_warns_once_with_its_source(write):
    write(
        "gunicorn.conf.py",
        """
        bind = "0.0.0.0:8000"
        spew = True
        capture_output = True
        """,
    )
    cfg = load(["-c", "gunicorn.conf.py", "--threads", "4"])
    assert cfg.warnings == [
        "setting 'spew' (from gunicorn.conf.py:2) is not supported yet and is ignored",
        "setting 'capture_output' (from gunicorn.conf.py:3) is not supported yet and is ignored",
        "setting 'threads' (from flag --threads) is ignored: a gevent worker runs each "
        "connection in a greenlet (see worker_connections)",
    ]
    assert cfg.threads == 4  # accepted: the value is there for who reads it


def test_unsupported_setting_left_at_its_default_does_not_warn(write):
    write(
        "gunicorn.conf.py",
        """
        preload_app = False
        raw_env = []
        forwarded_allow_ips = "127.0.0.1,::1"
        threads = 1
        umask = 0
        """,
    )
    assert load(["-c", "gunicorn.conf.py"]).warnings == []


def test_threads_is_accepted_and_says_why_it_is_ignored(write):
    write("gunicorn.conf.py", "workers = 2\nthreads = 4\n")
    cfg = load(["-c", "gunicorn.conf.py"])
    assert cfg.threads == 4
    assert cfg.warnings == [
        "setting 'threads' (from gunicorn.conf.py:2) is ignored: a gevent worker runs each "
        "connection in a greenlet (see worker_connections)"
    ]


def test_gunicorn_settings_glade_does_not_have(write):
    write(
        "gunicorn.conf.py",
        """
        worker_tmp_dir = "/dev/shm"
        enable_stdio_inheritance = True
        spew = False
        sendfile = None
        capture_output = False
        """,
    )
    assert load(["-c", "gunicorn.conf.py"]).warnings == [
        "setting 'worker_tmp_dir' (from gunicorn.conf.py:1) is not needed (Glade's heartbeat "
        "is a pipe, not a file) and is ignored",
        "setting 'enable_stdio_inheritance' (from gunicorn.conf.py:2) is not supported yet "
        "and is ignored",
    ]


def test_gunicorns_syslog_settings_are_glades_own(write):
    write(
        "gunicorn.conf.py",
        """
        syslog = True
        syslog_addr = "udp://127.0.0.1:5514"
        syslog_prefix = "site"
        syslog_facility = "LOCAL3"
        disable_redirect_access_to_syslog = True
        """,
    )
    cfg = load(["-c", "gunicorn.conf.py"])
    assert cfg.warnings == []
    assert (cfg.syslog, cfg.syslog_addr, cfg.syslog_prefix) == (
        True,
        "udp://127.0.0.1:5514",
        "site",
    )
    assert (cfg.syslog_facility, cfg.disable_redirect_access_to_syslog) == ("local3", True)


def test_gunicorn_only_hook_warns(write):
    write("gunicorn.conf.py", "def ssl_context(config, default_ssl_context_factory):\n    pass\n")
    assert load(["-c", "gunicorn.conf.py"]).warnings == [
        "setting 'ssl_context' (from gunicorn.conf.py:1) is not supported yet and is ignored"
    ]


def test_misspelt_setting_in_a_python_file_warns(write):
    write(
        "gunicorn.conf.py",
        """
        import multiprocessing

        worker = multiprocessing.cpu_count()
        graceful_timeout_str = "30"
        keep_alive = 5
        cores = 4


        def post_frok(server, worker):
            pass
        """,
    )
    assert load(["-c", "gunicorn.conf.py"]).warnings == [
        "'worker' (from gunicorn.conf.py:3) is not a setting and is ignored; "
        "did you mean 'workers'?",
        "'keep_alive' (from gunicorn.conf.py:5) is not a setting and is ignored; "
        "did you mean 'keepalive'?",
        "'post_frok' (from gunicorn.conf.py:9) is not a setting and is ignored; "
        "did you mean 'post_fork'?",
    ]


def test_command_settings_in_a_python_file_are_ignored_with_a_warning(write):
    write("gunicorn.conf.py", "check_config = True\n")
    cfg = load(["-c", "gunicorn.conf.py"])
    assert cfg.check_config is False
    assert cfg.warnings == [
        "setting 'check_config' (from gunicorn.conf.py:1) cannot be set in a config file; ignored"
    ]


# -- hooks --------------------------------------------------------------------------


def test_hooks_are_kept_as_the_functions_in_the_file(write):
    write(
        "gunicorn.conf.py",
        """
        calls = []


        def on_starting(server):
            calls.append(("on_starting", server))


        def nworkers_changed(server, new_value, old_value=None):
            calls.append((new_value, old_value))


        def worker_exit(*args):
            calls.append(args)
        """,
    )
    cfg = load(["-c", "gunicorn.conf.py"])
    cfg.on_starting("master")
    cfg.nworkers_changed("master", 3, 2)
    cfg.worker_exit("master", "worker")
    assert cfg.on_starting.__globals__["calls"] == [
        ("on_starting", "master"),
        (3, 2),
        ("master", "worker"),
    ]


def test_post_request_with_fewer_arguments_is_called_with_what_it_takes(write):
    write(
        "gunicorn.conf.py",
        """
        seen = []


        def post_request(worker, req):
            seen.append((worker, req))
        """,
    )
    cfg = load(["-c", "gunicorn.conf.py"])
    cfg.post_request("worker", "req", {"environ": 1}, "resp")  # always called with four
    assert cfg.post_request.__wrapped__.__globals__["seen"] == [("worker", "req")]
    write("three.py", "def post_request(worker, req, environ):\n    pass\n")
    load(["-c", "three.py"]).post_request("w", "r", {}, "resp")


def test_hooks_may_be_callable_objects_and_lambdas(write):
    write(
        "gunicorn.conf.py",
        """
        class Counter:
            def __init__(self):
                self.count = 0

            def __call__(self, server, worker):
                self.count += 1


        pre_fork = Counter()
        on_exit = lambda server: None  # noqa: E731
        """,
    )
    cfg = load(["-c", "gunicorn.conf.py"])
    cfg.pre_fork("server", "worker")
    assert cfg.pre_fork.count == 1
