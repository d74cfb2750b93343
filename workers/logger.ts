import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON structured logs. Credentials are redacted wherever they could appear: request headers, token
 * secrets, connector credentials.
 */
export function createLogger(level: string, name = 'portal'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
        '*.secret', '*.token', '*.password', '*.apiKey', '*.credentials',
      ],
      censor: '[redacted]',
    },
  });
}
