// Imported first by a test file (before anything loads @grpc/grpc-js-xds,
// which reads its feature switches once, at load): the in-process
// grpc-js-xds clients of that file are built without ring hash support, as
// an older client would be, so a DestinationRule with `consistentHash` is a
// real NACK (`unsupported lb_policy: RING_HASH`) that meshcd's own checks
// rightly let through. Test files run in their own process (ava's
// workerThreads: false), so no other file is affected.
process.env.GRPC_XDS_EXPERIMENTAL_ENABLE_RING_HASH = 'false';
