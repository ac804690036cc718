"""Sonde's injected entry point: on `PYTHONPATH` ahead of the app, Python imports this at startup. It
starts the agent, then runs the `sitecustomize` the app already had (the next one on sys.path), so
injection changes nothing else. Any failure is reported on stderr and the app starts as usual."""


def _sonde_start():
    try:
        import sonde_agent
        sonde_agent.start()
    except Exception as exc:  # the app comes first
        import sys
        sys.stderr.write("sonde: the agent did not start: %r\n" % (exc,))


def _chain_next_sitecustomize():
    import importlib.machinery
    import importlib.util
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # The app's sitecustomize sees itself as `sitecustomize`, as it would without Sonde.
    sys.modules["sitecustomize"] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        import traceback
        traceback.print_exc()


_sonde_start()
_chain_next_sitecustomize()
