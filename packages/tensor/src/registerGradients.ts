import '@tensorflow/tfjs-core';
import '../vendor/tfjsGradients.js';
