"""The public surface, locked: each room's exact ``__all__``.

A change here is a change of the contract users touch (issue #12): add or remove a name in the
module and in this file in the same reviewed commit.
"""

from __future__ import annotations

import importlib
import inspect
import pydoc
import types

import pytest

PUBLIC = {
    "rttgeo": [
        "Confidence",
        "Estimate",
        "EstimateResult",
        "EvaluationResult",
        "Landmark",
        "LandmarkDiagnostic",
        "LocateResult",
        "Measurement",
        "Mesh",
        "Provenance",
        "Sample",
        "VerifyResult",
        "__version__",
        "estimate",
        "evaluate",
        "locate",
        "verify",
    ],
    "rttgeo.api": [
        "Confidence",
        "EstimateResult",
        "EvaluationResult",
        "LabLocateResult",
        "LocateResult",
        "MeasureResult",
        "Measurement",
        "ProveReport",
        "Provenance",
        "VerifyResult",
        "estimate",
        "evaluate",
        "lab_locate",
        "locate",
        "measure",
        "prove",
        "prove_every",
        "verify",
    ],
    "rttgeo.estimate": ["DEFAULT_METHOD", "METHODS", "Estimator", "make_estimator"],
    "rttgeo.measure": [
        "Campaign",
        "CampaignParams",
        "CampaignResult",
        "FakeProber",
        "ProbeResult",
        "Prober",
        "ProberStats",
        "ReplayProber",
        "TokenBucket",
        "TwoStageResult",
        "available_protocols",
        "farthest_point_indices",
        "make_prober",
        "nearest_indices",
        "probe_wave",
        "run_campaign",
        "run_campaign_sync",
        "run_sync",
        "two_stage",
    ],
    "rttgeo.plot": [
        "DecidingLandmark",
        "draw_estimate",
        "draw_verification",
        "error_cdf",
        "estimate_from_json",
        "eval_grid",
        "map_estimate",
        "reliability",
        "rtt_vs_distance",
        "verification_report_html",
        "write_report",
        "write_verification_report",
    ],
    "rttgeo.errors": [
        "CatalogError",
        "DatasetError",
        "EstimationError",
        "InputError",
        "LabError",
        "MeasurementError",
        "MissingExtra",
        "NoLandmarkAnswered",
        "PermissionDenied",
        "RttgeoError",
        "RttgeoWarning",
        "SamplesError",
        "StoreError",
        "VerificationError",
        "WorldError",
        "require",
        "warn",
    ],
    "rttgeo.geo": [
        "CellRegion",
        "cell_area_km2",
        "destination",
        "distance_km",
        "from_unit_vectors",
        "level_for_resolution",
        "pairwise_distance_km",
        "refine",
        "to_unit_vectors",
        "unit_distance_km",
    ],
    "rttgeo.catalog": [
        "DEFAULT_CATALOG_DATE",
        "DEFAULT_CATALOG_NAME",
        "OPTIONAL_COLUMNS",
        "REQUIRED_COLUMNS",
        "catalog_text",
        "check_catalog",
        "default_catalog_path",
        "file_sha256",
        "landmark_record",
        "load_catalog",
        "load_default_catalog",
        "parse_catalog_rows",
        "resolve_catalog",
        "save_catalog",
    ],
    "rttgeo.verify": [
        "DEFAULT_POSITION_UNCERTAINTY_KM",
        "OUTCOMES",
        "Claim",
        "Decision",
        "PolygonClaim",
        "RadiusClaim",
        "country_claim",
        "decide",
        "parse_geojson_polygons",
        "read_geojson_claim",
        "sound_radius_km",
    ],
    "rttgeo.store": [
        "CAMPAIGN_STATUSES",
        "SAMPLE_COLUMNS",
        "CampaignInfo",
        "CampaignStore",
        "RemoteMeasurement",
        "add_samples",
        "align_rtts",
        "iter_min_rtt_rows",
        "load_rtts",
        "mark_fetched",
        "open_readonly",
        "read_rtts",
        "record_remote_measurement",
        "remote_measurements",
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_all_is_exactly_the_locked_list_and_every_name_resolves(name: str) -> None:
    mod = importlib.import_module(name)  # the room itself, even where a verb shares its name
    assert list(mod.__all__) == PUBLIC[name], f"{name}.__all__ changed: update this lock with care"
    assert len(set(mod.__all__)) == len(mod.__all__), "no duplicates"
    for attr in mod.__all__:
        assert getattr(mod, attr) is not None, (name, attr)


def test_top_level_exposes_nothing_public_beyond_all() -> None:
    """Like httpx's test_exported_members: a public non-module name of ``rttgeo`` is in ``__all__``."""
    import rttgeo

    public = {
        n
        for n, v in vars(rttgeo).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    assert public == set(rttgeo.__all__) - {"__version__"}


def test_verbs_are_the_api_functions_not_the_rooms_of_the_same_name() -> None:
    """``rttgeo.estimate`` is the verb even after its room and every submodule are imported."""
    import rttgeo
    import rttgeo.api
    import rttgeo.estimate.evaluate  # importing a submodule must not rebind the verb
    import rttgeo.verify.simulate  # nor for verify

    for verb in ("estimate", "evaluate", "locate", "verify"):
        f = getattr(rttgeo, verb)
        assert inspect.isfunction(f) and f is getattr(rttgeo.api, verb), verb
    assert importlib.import_module("rttgeo.estimate").make_estimator is not None


def test_verify_is_the_verb_and_rttgeo_verify_the_room() -> None:
    import rttgeo
    import rttgeo.api

    assert inspect.isfunction(rttgeo.verify) and rttgeo.verify is rttgeo.api.verify
    assert importlib.import_module("rttgeo.verify").decide is not None


def test_help_of_the_package_fits_a_screen_and_names_the_verbs() -> None:
    import rttgeo

    doc = inspect.getdoc(rttgeo)
    assert doc is not None and len(doc.splitlines()) <= 40
    for verb in ("rttgeo.estimate(", "rttgeo.locate(", "rttgeo.evaluate("):
        assert verb in doc
    assert "NAME\n    rttgeo" in pydoc.render_doc(rttgeo, renderer=pydoc.plaintext)
