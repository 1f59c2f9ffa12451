#![no_main]
model_convert_fuzz::target!("openvino");
