{
  # balance-service: the chip ledger of the play-money poker platform.
  #
  #   nix develop   shell with Node 24, redis-server/redis-cli, protoc, grpcurl, prefetch-npm-deps
  #   nix build     ./result/bin/balance-service (compiled service + production node_modules)
  #   nix run       starts it; without REDIS_URL it runs its own redis-server under DATA_DIR
  #                 (default ./.data), exactly like `npm start`
  #
  # First use (this repository ships no flake.lock because it was written on a
  # machine without network access to GitHub):
  #   nix flake lock                      # pins nixpkgs into flake.lock; commit it
  #   nix build                           # fails once, printing "got: sha256-..."
  #   put that hash into npmDepsHash below, or compute it directly with
  #   nix run nixpkgs#prefetch-npm-deps -- package-lock.json
  # npmDepsHash must be recomputed whenever package-lock.json changes.
  description = "balance-service: double-entry chip ledger (Redis, gRPC, HTTP)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs:
        let
          lib = pkgs.lib;
          nodejs = pkgs.nodejs_24;
          balance-service = pkgs.buildNpmPackage {
            pname = "balance-service";
            version = "0.1.0";
            inherit nodejs;

            # Only what the build reads, so that editing docs or tests does not rebuild.
            src = lib.fileset.toSource {
              root = ./.;
              fileset = lib.fileset.unions [
                ./package.json
                ./package-lock.json
                ./tsconfig.json
                ./tsconfig.build.json
                ./scripts
                ./src
                ./proto
              ];
            };

            # Hash of the npm dependencies fetched from package-lock.json (a
            # fixed-output derivation: Nix checks it, so the build is reproducible).
            # lib.fakeHash is a placeholder: replace it with the output of
            #   prefetch-npm-deps package-lock.json
            # (in `nix develop`), or with the "got:" hash of a first `nix build`.
            npmDepsHash = lib.fakeHash;

            # No install scripts: the `node` devDependency's preinstall would download a
            # Node binary (no network in the sandbox, and nodejs_24 is already here).
            # TypeScript 7's compiler is a static binary from an optional dependency and
            # needs no script either.
            npmFlags = [ "--ignore-scripts" ];

            # npmBuildHook runs `npm run build`: tsc -p tsconfig.build.json, then
            # scripts/copy-assets.ts copies the store's .lua scripts into dist/.
            npmBuildScript = "build";

            nativeBuildInputs = [ pkgs.makeWrapper ];

            # The wrapper `exec`s node (makeWrapper does), so `nix run` / the service manager's
            # SIGTERM reaches the service itself: it drains and stops its redis-server.
            # Not the default npm-pack install: .gitignore lists dist/, so npm pack would
            # leave the compiled service out. Production node_modules, dist/ and proto/
            # (the gRPC server loads proto/ relative to dist/ at run time).
            installPhase = ''
              runHook preInstall
              npm prune --omit=dev --no-save --ignore-scripts --no-audit --no-fund
              mkdir -p $out/lib/balance-service $out/bin
              cp -r package.json dist proto node_modules $out/lib/balance-service/
              makeWrapper ${lib.getExe nodejs} $out/bin/balance-service \
                --add-flags $out/lib/balance-service/dist/main.js \
                --prefix PATH : ${lib.makeBinPath [ pkgs.redis ]}
              runHook postInstall
            '';

            doCheck = false;

            meta = {
              description = "Chip balance and ledger service of a play-money poker platform";
              mainProgram = "balance-service";
              platforms = lib.platforms.unix;
            };
          };
        in
        {
          inherit balance-service;
          default = balance-service;
        });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_24
            pkgs.redis
            pkgs.protobuf
            pkgs.grpcurl
            pkgs.prefetch-npm-deps
          ];
          shellHook = ''
            echo "balance-service dev shell: node $(node --version), $(redis-server --version | cut -d' ' -f3), protoc $(protoc --version | cut -d' ' -f2)"
          '';
        };
      });

      formatter = forAllSystems (pkgs: pkgs.nixpkgs-fmt);
    };
}
