"""Evaluation of generators: scoring under protocols, evaluation during training, end-of-run figures.

  scorer           GeneratorScorer: a generator under an eval.protocols protocol (samples -> features -> metrics
                   against cached real statistics)
  protocols        the protocols a run is scored with (per dataset and task), main metric, paper figures
  run_evaluation   RunEvaluation: the one object the training loop calls (due, evaluations_left, observe,
                   after_step, at_end); it composes the periodic and end-of-run evaluators and writes the
                   end-of-run figures file
  periodic         PeriodicEvaluator: evaluation every eval.every_steps during training, metrics.jsonl
  best_checkpoint  the best checkpoint by the main metric (checkpoints_best/, best.json)
  collapse         the collapse rule (eval.collapse)
  end_of_run       the evaluator a finished run calls once (eval.fvd_at_end): figures or prediction figures
  figures          the end-of-run FVD figures of a synthesis run (fvd.json)
  untrained        the feature network and the untrained generator both sets of demo figures compare with
  prediction       DVD-GAN-FP's prediction FVD and end-of-run figures (prediction.json)

The training loop calls RunEvaluation alone; `python -m dvd_gan.evaluate` scores a run folder's checkpoint
with the scorer. Nothing here imports the training loop or a command.
"""
