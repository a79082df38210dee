/** An artifact: manifest, config, layers, platforms, referrers (issue 16; being built). */
export function ArtifactPage({ name, reference }: { name: string; reference: string }) {
  return (
    <section>
      <h1>
        {name}@{reference}
      </h1>
    </section>
  );
}
