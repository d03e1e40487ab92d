// Wrangler bundles config files as text modules (see [[rules]] in the wrangler tomls).
declare module "*.yaml" {
  const text: string;
  export default text;
}
