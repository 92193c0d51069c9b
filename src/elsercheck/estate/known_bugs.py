"""The upstream bugs an existing estate can meet, by the version a cluster reports.

Data, one row per bug, each with the issue, the versions known to have it (``fnmatch`` patterns
on ``version.number``, as ``contracts/known_deviations.toml``), the fix, and what in an estate
exposes it. ``doctor`` flags the estate parts a bug can hit on the cluster's version;
``upgrade-check`` lists the rows that differ between two versions. Read from the issues and
pull requests named in each row (not from the reference server, which models some of them).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class EstateBug:
    issue: str
    versions: tuple[str, ...]  # fnmatch patterns on version.number
    exposure: str  # what in an estate exposes it: "scale-to-zero", "stored-elser-config"
    what: str
    fix: str
    action: str

    def affects(self, version_number: str) -> bool:
        """Whether a cluster reporting ``version_number`` is known to have this bug."""
        return any(fnmatch.fnmatchcase(version_number, p) for p in self.versions)


BUGS: tuple[EstateBug, ...] = (
    EstateBug(
        "elastic/elasticsearch#137134",
        # The issue reports 9.2.0 ("Version: 9.2.0"); issue #27 of this project says 9.1.0.
        # Fixed by #137244 ("Preserve deployments with zero allocations during assignment
        # planning", 9.3.0 release notes; no 9.2/9.1 back-port found), as read for
        # reference/versions.py BUGS ("zero-allocation-dropped-on-start"): 9.1 and 9.2.
        ("9.1.*", "9.2.*"),
        "scale-to-zero",
        "a deployment scaled to zero (adaptive allocations, min_number_of_allocations 0) was "
        "deleted when another inference endpoint on the same model was created",
        "#137244 (9.3.0)",
        "before creating another endpoint on the same model, keep min_number_of_allocations "
        "≥ 1 on the existing one (or upgrade past 9.2); afterwards check its deployment with "
        "GET _ml/trained_models/_stats",
    ),
    EstateBug(
        "elastic/elasticsearch#146806",
        # Fixed by #146910 (9.4.0 release notes), back-ported to 9.4 (#147304) and 9.3 (#147306,
        # merged 2026-04-23: in the modelled 9.3.8); no 8.19/9.1/9.2 back-port was found (as
        # read for reference/versions.py BUGS "zero-allocation-lost-on-restart"). Earlier 9.3
        # patches may still have it (which one first had the back-port: not verified).
        ("8.*", "9.0.*", "9.1.*", "9.2.*"),
        "scale-to-zero",
        "a deployment at zero allocations is silently dropped from the cluster state when an "
        "ML node shuts down "
        "(TrainedModelAssignmentClusterService.setShuttingDownNodeRoutesToStopping); "
        "every inference then answers 404 'Unable to find model deployment task' until the "
        "endpoint is deleted and recreated",
        "#146910 (9.4.0), back-ported to 9.3 as #147306",
        "upgrade to 9.4 (or a 9.3 patch with the back-port); until then keep "
        "min_number_of_allocations ≥ 1 where a 404 is not acceptable, and recreate the "
        "endpoint if inference answers 'Unable to find model deployment task'",
    ),
    EstateBug(
        "elastic/elasticsearch#124675",
        # "Affected versions: 8.16.0 and greater"; fixed by #124769 (merged 2025-03-13),
        # back-ported to 8.16 (#124794) and 8.18 (#124789). Which patch of each line first
        # had it was not verified: every 8.16-8.18 patch is flagged as possibly affected.
        ("8.16.*", "8.17.*", "8.18.*"),
        "stored-elser-config",
        "an 'elser' endpoint stored by 8.12 (service_settings.model_version) no longer parses "
        "from 8.16 on: 'Error parsing request config, model id is missing'",
        "#124769 (back-ports #124794 8.16, #124789 8.18)",
        "upgrade to a release with #124769; or recreate the endpoint (same id, service "
        "'elasticsearch', model_id '.elser_model_2')",
    ),
)


def bugs_for(version_number: str, exposure: str | None = None) -> list[EstateBug]:
    """The rows a cluster at ``version_number`` is known to have (of one exposure, if given)."""
    return [b for b in BUGS if b.affects(version_number) and exposure in (None, b.exposure)]
