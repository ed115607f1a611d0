"""RIPE Atlas: anchors as landmarks, the REST client, result parsing, vantage points, the anchor
mesh and run costs (ripe-atlas-cousteau and ripe-atlas-sagan, the ``atlas`` extra, imported lazily).
Depends only on models / geo / errors; the verbs that combine it with the store and the estimators
are in :mod:`rttgeo.api.atlas`.
"""

from rttgeo.atlas.anchors import (
    anchors_to_landmarks,
    check_reachable,
    fetch_anchor_landmarks,
    fetch_anchor_records,
)
from rttgeo.atlas.client import (
    ATLAS_KEY_ENV,
    AtlasAuthError,
    AtlasClient,
    AtlasError,
    AtlasRateLimited,
    AtlasRequestError,
    MeasurementStatus,
    load_api_key,
)
from rttgeo.atlas.mesh import (
    MeshBuild,
    MeshMeasurement,
    anchor_mesh,
    mesh_measurements,
    select_mesh_measurements,
    unresolved_measurements,
)
from rttgeo.atlas.plan import AtlasLimits, LimitCheck, ping_result_credits, run_credits
from rttgeo.atlas.results import landmark_id, read_atlas_results, result_samples
from rttgeo.atlas.vantage import VantagePoint, first_wave, second_wave, to_landmarks, vantage_points

__all__ = [
    "ATLAS_KEY_ENV",
    "AtlasAuthError",
    "AtlasClient",
    "AtlasError",
    "AtlasLimits",
    "AtlasRateLimited",
    "AtlasRequestError",
    "LimitCheck",
    "MeasurementStatus",
    "MeshBuild",
    "MeshMeasurement",
    "VantagePoint",
    "anchor_mesh",
    "anchors_to_landmarks",
    "check_reachable",
    "fetch_anchor_landmarks",
    "fetch_anchor_records",
    "first_wave",
    "landmark_id",
    "load_api_key",
    "mesh_measurements",
    "ping_result_credits",
    "read_atlas_results",
    "result_samples",
    "run_credits",
    "second_wave",
    "select_mesh_measurements",
    "to_landmarks",
    "unresolved_measurements",
    "vantage_points",
]
