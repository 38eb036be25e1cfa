// Imported first by run.ts: quiet logs before any module creates its logger.
process.env.MESHCD_LOG_LEVEL ??= 'error';
export {};
