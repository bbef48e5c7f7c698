/** leaf's version, reported by `leaf version` and in the MQTT username. */
export const VERSION = "0.1.0";

/**
 * The day this release was cut. A device clock earlier than this is wrong
 * (an RTC-less board that has not synced time yet), and every TLS and SAS
 * failure that follows would be misleading.
 */
export const RELEASE_DATE = "2026-11-29";

/** The `DeviceClientType` leaf reports to the gateway. */
export const USER_AGENT = `leaf/${VERSION}`;
