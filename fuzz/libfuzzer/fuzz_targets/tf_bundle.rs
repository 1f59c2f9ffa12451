#![no_main]
model_convert_fuzz::target!("tf_bundle");
