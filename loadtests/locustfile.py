"""ELSER under load while adaptive allocations scale.

    locust -f loadtests/locustfile.py --host http://localhost:9200               # web UI
    locust -f loadtests/locustfile.py --host URL --headless --shape idle-to-zero  # CI / nightly

Credentials come from ELASTICSEARCH_API_KEY (or ELASTICSEARCH_USERNAME/PASSWORD), a CA file from
ELASTICSEARCH_CA_CERTS. The run creates one endpoint `elsercheck-<run-id>-load` (or uses
--inference-id, untouched), drives the shape given with --shape, polls the deployment's stats
beside the load, and at the end writes requests.csv, allocations.csv, expectations.json and
run.json to --results-dir and exits 1 if a scaling expectation failed.
`elsercheck load` runs this file with the right options for you. See loadtests/README.md.
"""

from locust import events

from elser_locust import session, webui
from elser_locust.options import add_arguments
from elser_locust.shapes import NamedShape
from elser_locust.users import EndpointLifecycleUser, InferenceUser, IngestUser, SearchUser
from elsercheck.load.workloads import USER_CLASSES

__all__ = ["EndpointLifecycleUser", "InferenceUser", "IngestUser", "NamedShape", "SearchUser"]


@events.init_command_line_parser.add_listener
def _options(parser, **_):
    add_arguments(parser)


@events.init.add_listener
def _init(environment, **_):
    load = session.install(environment)
    if load is not None:
        EndpointLifecycleUser.fixed_count = load.settings.lifecycle_users
        wanted = set(USER_CLASSES[load.settings.workload])  # --workload's load users
        if load.settings.lifecycle_users:  # else locust would weigh it like the load users
            wanted.add(EndpointLifecycleUser.__name__)
        environment.user_classes = [
            cls for cls in environment.user_classes if cls.__name__ in wanted
        ]
        webui.install(environment, load)
