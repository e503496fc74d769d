// Every test file starts on the cpu backend, the reference the other backends are checked against.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

tf.env().set('IS_TEST', true);
await tf.setBackend('cpu');
