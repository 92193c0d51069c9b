"""The simulated ML node: deployments with their queues and allocations, the adaptive
allocations scaler (with its Kalman filter) and the stand-in sparse encoder."""
