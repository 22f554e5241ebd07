"""Data section of the config (owned by dvd_gan.data). See docs/data.md for every key."""
import ml_collections


def data_config() -> ml_collections.ConfigDict:
  d = ml_collections.ConfigDict()
  # "synthetic" | "ucf101" | "bair_robot_pushing_small" | "kinetics600" | "video_folder"
  d.name = "synthetic"
  d.split = "train"          # training split (TFDS split syntax, e.g. "train[:90%]")
  d.eval_split = "test"      # evaluation split ("validation" for kinetics600)
  d.stride = 2               # frame stride (2 for Kinetics synthesis, 1 for prediction / other datasets)
  d.data_dir = ""            # TFDS data_dir ("" = TFDS default)
  # TFDS builder config: "" = default per dataset: ucf101 -> "ucf101_1" (native 320x240, split 1);
  # kinetics600 -> the smallest stored shorter side >= config.resolution ("64", "128" or "256").
  # video_folder: tfds_config = "r<resolution>_<fingerprint>", set by the run (dvd_gan/data/video_folder.py).
  d.tfds_config = ""
  # video_folder: the folder of videos (local or gs://; layouts in docs/data.md, "Your own videos"). The
  # first run prepares it into data_dir (a changed folder gets a new tfds_config), later runs reuse it.
  d.videos = ""
  d.labels = "folders"       # video_folder: "folders" (class folders are the classes) | "none" (unconditional)
  # video_folder: the folder's class names in label order, filled by the run from the prepared data (written
  # to config.json, so exports and `dvd_gan.sample --classes=NAME` know them); () = unconditional.
  d.class_names = ()
  d.prepare_workers = 0      # video_folder: decoder processes of the first run's preparation (0 = all cores)
  # Frame-conditional prediction (DVD-GAN-FP): C conditioning frames precede the config.num_frames frames
  # to predict; batches then carry "context" [b, C, H, W, 3]. BAIR: 1 (+15), Kinetics prediction: 5 (+11).
  d.num_conditioning_frames = 0
  d.synthetic_variant = "synthesis"  # "synthesis" | "prediction" (faster, smaller shapes; data/synthetic.py)
  d.eval_frame_offset = 0    # evaluation: first frame of the clip taken (training: random offset)
  d.bair_camera = "image_main"  # "image_main" | "image_aux1"
  d.shuffle_buffer = 256     # examples, per input pipeline (each replica/host shuffles its own stream)
  # Cache of decoded frames (before the random crop): "auto" caches in memory when the decoded size of this
  # pipeline's shard is known (BAIR: fixed 30x64x64 clips; kinetics600: recorded by our builder in its
  # metadata) and <= cache_max_bytes; "memory" always; "none" never (decode only the chosen frames).
  d.cache = "auto"
  d.cache_max_bytes = 2 * 1024 ** 3
  d.num_parallel_calls = -1  # map parallelism (-1 = tf.data.AUTOTUNE)
  d.prefetch = -1            # batches prefetched (-1 = tf.data.AUTOTUNE)
  d.deterministic = True     # keep element order deterministic (False: a bit more throughput)
  return d
