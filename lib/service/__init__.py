"""The engine service on top of the stages: `lib.service.engine.Engine` owns every key and every
get-or-compute; `warmup` readies a server; `samples` serves and regenerates the shipped samples."""
