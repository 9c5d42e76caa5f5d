"""Check everything a campaign run reads before anything runs (and for ``--dry-run``).

The dataset source (an existing dataset's manifest, or the build configuration with its
imported files), the results directory and the Parsl profile, whose ``make_config`` is
called in a throw-away directory so a broken site configuration fails here, not after
the first tasks were submitted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from xfer.data.build import preflight as dataset_preflight
from xfer.data.store import Dataset
from xfer.errors import InputError, XferError
from xfer.workflow.campaign import Campaign
from xfer.workflow.execution import load_profile


def check_campaign(campaign: Campaign, out: Path, profile: str, workers: int | None) -> None:
    """Raise :class:`InputError` for the first problem a real run would meet."""
    if out.exists() and not out.is_dir():
        raise InputError(f"results directory {out} is an existing file")
    source = campaign.dataset
    if source.path is not None:
        Dataset.open(source.path)
    else:
        dataset_preflight(source.build_config(), None)
    check_profile(profile, workers)


def check_profile(profile: str, workers: int | None) -> None:
    """Build the profile's Parsl ``Config`` without starting it."""
    with tempfile.TemporaryDirectory(prefix="xfer-profile-") as tmp:
        try:
            load_profile(profile, Path(tmp), workers)
        except XferError:
            raise
        except Exception as exc:  # the user's (or site's) make_config is arbitrary code
            raise InputError(
                f"parsl profile {profile}: make_config failed ({type(exc).__name__}: {exc})"
            ) from None
