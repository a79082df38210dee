/** Storage, garbage collection and retention, webhooks (issue 16; being built). */
export function RegistryPage() {
  return (
    <section>
      <h1>Registry</h1>
    </section>
  );
}
