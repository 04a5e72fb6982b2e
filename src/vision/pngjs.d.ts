// The part of pngjs 7 slmkit uses (the package ships no types).
declare module 'pngjs' {
  export interface PNGSyncReadOptions {
    skipRescale?: boolean;
  }
  export const PNG: {
    sync: {
      read(buffer: Uint8Array, opts?: PNGSyncReadOptions): { width: number; height: number; data: Uint8Array };
      write(png: { width: number; height: number; data: Uint8Array }, opts?: Record<string, unknown>): Uint8Array;
    };
  };
}
