// A turn of the event loop: long work on the daemon's main thread (which also sends the VRRP
// adverts) awaits this between slices, so timers and sockets are served in between.
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
