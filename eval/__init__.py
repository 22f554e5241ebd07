"""eval: a standalone evaluation package for any set of videos (FVD, FID, IS, KVD, precision and recall, with
I3D / C3D features).

Library use (arrays [N, T, H, W, 3] uint8, iterables of batches, or precomputed FeatureStats):

    import eval
    eval.compute_fvd(real_videos, fake_videos)
    eval.compute_fid(real_videos, fake_videos), eval.compute_is(fake_videos), eval.compute_kvd(...)
    eval.compute_metric("fvd", real_stats, fake_videos)   # MetricResult: value, std over draws, counts

Command line: `python -m eval {features,stats,fvd,fid,is,kvd,prdc,fvd_inf,fid_inf,merge,protocols,score}
--help` (docs/eval.md);
named protocols (network, frames, numbers of videos, repeats fixed by name): `eval.protocols`, `eval.scoring`.
Importing this package does not import TensorFlow; it is imported when features are computed. Importing it
before TensorFlow turns TensorFlow's oneDNN CPU kernels on where TensorFlow would leave them off (eval.onednn).
"""
from eval.onednn import prefer_onednn

prefer_onednn()

__version__ = "0.1.0"

from eval.api import (compute_fid, compute_fvd, compute_is, compute_kvd, compute_metric,  # noqa: E402
                      compute_stats, get_feature_network)
from eval.errors import EvalError  # noqa: E402
from eval.metrics import MetricResult, frechet_distance, inception_score  # noqa: E402
from eval.stats import FeatureStats  # noqa: E402

__all__ = ["__version__", "EvalError", "FeatureStats", "MetricResult", "compute_fvd", "compute_fid",
           "compute_is", "compute_kvd", "compute_metric", "compute_stats", "frechet_distance",
           "get_feature_network", "inception_score"]
