/** Types of node-support.js (plain JavaScript, so that any Node can load it). */
export declare const installedNode: string;
export declare function enginesRange(): string;
export declare function satisfies(version: string, range: string): boolean;
